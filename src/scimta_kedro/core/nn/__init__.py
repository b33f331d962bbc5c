"""The neural network: Keras layers (``layers``), the graph autoencoder (``model``) and its
losses (``likelihoods``)."""
