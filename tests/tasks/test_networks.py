import torch

from descend.tasks.networks import SeedConvNet


def test_seed_convnet_shapes_and_size():
    model = SeedConvNet()
    out = model(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(3))  # log-probabilities
    assert sum(p.numel() for p in model.parameters()) == 300_426
    assert len(list(model.parameters())) == 8
