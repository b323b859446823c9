"""The book's DCGAN written in PyTorch, layer for layer, to time minigan against.

Same shapes, same parameter counts (6,264,579 and 790,913), the same TensorFlow-style
'same' padding (asymmetric for the even 4x4 transposed kernel is not needed: Keras'
Conv2DTranspose(4, strides=2, padding='same') from 16 to 32 equals PyTorch's
ConvTranspose2d(4, stride=2, padding=1)), RMSprop with Keras 2's epsilon (1e-7, outside
the square root, as torch's) and clipvalue done by clamping every gradient element.
Only used by the benchmarks; PyTorch is optional.
"""

import torch
from torch import nn

LATENT_DIM, CHANNELS = 32, 3


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(LATENT_DIM, 128 * 16 * 16)
        self.conv1 = nn.Conv2d(128, 256, 5, padding=2)
        self.up = nn.ConvTranspose2d(256, 256, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(256, 256, 5, padding=2)
        self.conv3 = nn.Conv2d(256, 256, 5, padding=2)
        self.out = nn.Conv2d(256, CHANNELS, 7, padding=3)
        self.act = nn.LeakyReLU(0.3)

    def forward(self, z, channels_last=False):
        x = self.act(self.dense(z))
        # Keras reshapes (N, 32768) to (N, 16, 16, 128) channels-last; do the same, then go NCHW.
        x = x.view(-1, 16, 16, 128).permute(0, 3, 1, 2)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.act(self.conv1(x))
        x = self.act(self.up(x))
        x = self.act(self.conv2(x))
        x = self.act(self.conv3(x))
        return torch.tanh(self.out(x))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(CHANNELS, 128, 3), nn.LeakyReLU(0.3),
            nn.Conv2d(128, 128, 4, stride=2), nn.LeakyReLU(0.3),
            nn.Conv2d(128, 128, 4, stride=2), nn.LeakyReLU(0.3),
            nn.Conv2d(128, 128, 4, stride=2), nn.LeakyReLU(0.3),
        )
        self.dropout = nn.Dropout(0.4)
        self.dense = nn.Linear(512, 1)

    def forward(self, x):
        x = self.convs(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten in Keras' NHWC order
        return self.dense(self.dropout(x))  # logits; the loss applies the sigmoid


def count(module):
    return sum(p.numel() for p in module.parameters())


class TorchGAN:
    """The book's three objects and its training step, in PyTorch."""

    def __init__(self, channels_last=False, device="cpu"):
        self.device, self.channels_last = device, channels_last
        self.generator = Generator().to(device)
        self.discriminator = Discriminator().to(device)
        if channels_last:
            self.generator = self.generator.to(memory_format=torch.channels_last)
            self.discriminator = self.discriminator.to(memory_format=torch.channels_last)
        assert count(self.generator) == 6_264_579 and count(self.discriminator) == 790_913
        self.d_opt = torch.optim.RMSprop(self.discriminator.parameters(), lr=0.0008, alpha=0.9, eps=1e-7)
        self.g_opt = torch.optim.RMSprop(self.generator.parameters(), lr=0.0004, alpha=0.9, eps=1e-7)
        self.loss = nn.BCEWithLogitsLoss()

    def _update(self, optimizer, parameters):
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(-1.0, 1.0)  # clipvalue=1.0
        optimizer.step()

    def step(self, batch_size, real_images):
        """generator.predict -> discriminator.train_on_batch(2B) -> gan.train_on_batch(B)."""
        dev = self.device
        z = torch.randn(batch_size, LATENT_DIM, device=dev)
        with torch.no_grad():
            fake = self.generator(z, self.channels_last)
        combined = torch.cat([fake, real_images])
        labels = torch.cat([torch.ones(batch_size, 1), torch.zeros(batch_size, 1)]).to(dev)
        labels += 0.05 * torch.rand(labels.shape, device=dev)
        self.d_opt.zero_grad(set_to_none=True)
        d_loss = self.loss(self.discriminator(combined), labels)
        d_loss.backward()
        self._update(self.d_opt, self.discriminator.parameters())

        z = torch.randn(batch_size, LATENT_DIM, device=dev)
        for p in self.discriminator.parameters():
            p.requires_grad_(False)
        self.g_opt.zero_grad(set_to_none=True)
        a_loss = self.loss(self.discriminator(self.generator(z, self.channels_last)),
                           torch.zeros(batch_size, 1, device=dev))
        a_loss.backward()
        self._update(self.g_opt, self.generator.parameters())
        for p in self.discriminator.parameters():
            p.requires_grad_(True)
        return d_loss.item(), a_loss.item()

    def real_batch(self, batch_size):
        x = torch.rand(batch_size, CHANNELS, 32, 32, device=self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
