"""The neural network: Keras layers (``layers``), the graph autoencoder (``model``) and its
losses (``likelihoods``)."""

from ...startup import import_tensorflow_quietly

# Every module of this package imports TensorFlow: without its start-up notices.
import_tensorflow_quietly()
