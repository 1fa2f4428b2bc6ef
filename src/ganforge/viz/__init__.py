"""Drawing only: image grids, PNG and GIF files, plots and report figures, from plain arrays and tensors.

viz knows nothing of models, data modules or metrics; it imports nothing of ganforge but viz.
"""
