"""Built-in ganzoo plugin: 2D Gaussian-mixture datasets (ring8, grid25) and the MLP architecture."""
