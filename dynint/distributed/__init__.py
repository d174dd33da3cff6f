"""Multi-process (multi-host) runs on JAX's distributed runtime: `config` (the `distributed`
section, without importing JAX) and `runtime` (joining, the primary process, gathering, batches)."""
