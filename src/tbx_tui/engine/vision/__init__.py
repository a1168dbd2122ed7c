"""Images and arrays: built-in and user datasets, streaming, augmentation, image models."""
