"""Models: the GADF/candlestick ResNet classifier and the CNN-LSTM regressor (issue 3)."""
