"""Training engine for the neural models: batching, the jit-compiled step, sharding, checkpoints, the loop.

`dynint.train.experiment.train_and_evaluate` is the entry point the runner calls.
"""
