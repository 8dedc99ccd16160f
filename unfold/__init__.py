"""unfold: deep unfolding of iterative algorithms into trainable networks."""

__version__ = "0.1.0"
