"""vamp: headless collaborative recording over a WebRTC mesh."""

__version__ = "0.1.0"
