"""Predictions: customer lifetime value (`clv`: BG/NBD for purchase counts, Gamma-Gamma for
spend, fitted by maximum likelihood with NumPy/SciPy)."""
