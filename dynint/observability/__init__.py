"""What a run shows while and after it trains: TensorBoard event files and curve figures."""
