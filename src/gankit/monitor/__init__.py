"""Training monitors: progress bar, metrics log, TensorBoard, sample grids and loss plots."""
