"""ConvTranspose2d.__init__ gives stride, padding and output_padding no defaults (the contract's
are 1, 0 and 0): a layer built with in_channels, out_channels and kernel_size alone fails."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.forward, autoencoder.conv_transpose.backward
# status: error
# clause: convt-defaults


def _init(self, *, in_channels, out_channels, kernel_size, stride, padding, output_padding):
    self.in_channels = in_channels
    self.out_channels = out_channels
    self.kernel_size = kernel_size
    self.stride = stride
    self.padding = padding
    self.output_padding = output_padding


ConvTranspose2d.__init__ = _init
