"""Pictures of samples and training: grids, plots, animations."""
