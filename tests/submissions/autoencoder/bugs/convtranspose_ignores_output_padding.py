"""ConvTranspose2d ignores output_padding: its output is output_padding rows and columns short."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.forward, autoencoder.conv_transpose.output_padding
# clause: convt-output-padding

_convt_forward, _convt_backward = ConvTranspose2d.forward, ConvTranspose2d.backward


def _without_output_padding(method):
    def wrapper(self, *args, **kwargs):
        op, self.output_padding = self.output_padding, 0
        try:
            return method(self, *args, **kwargs)
        finally:
            self.output_padding = op
    return wrapper


ConvTranspose2d.forward = _without_output_padding(_convt_forward)
ConvTranspose2d.backward = _without_output_padding(_convt_backward)
