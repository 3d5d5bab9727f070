"""Built-in ganzoo plugin ``ganzoo-images``: image datasets (shapes, mnist, fashion-mnist,
stacked-mnist, cifar10, image-folder)."""
