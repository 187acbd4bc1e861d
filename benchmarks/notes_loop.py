"""The study notes' MNIST training loop, kept as the notes wrote it (the notes' version).

Only two things differ from the notes: the data folder is a parameter instead of ``./data`` with
``download=True`` (these machines cannot download), and ``train``/``test`` take their model,
loaders and optimizer as arguments instead of module globals. The test loss keeps the notes'
formula (a sum of batch means divided by the number of samples) on purpose: this is the
reference nnkit is compared with, not code to reuse.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms

from nnkit.models import NotesNet


def loaders(
    root: str, batch_size: int = 32
) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:  # type: ignore[type-arg]
    train_dataset = torchvision.datasets.MNIST(
        root=root, train=True, transform=transforms.ToTensor(), download=False
    )
    test_dataset = torchvision.datasets.MNIST(
        root=root, train=False, transform=transforms.ToTensor(), download=False
    )
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=32, shuffle=False)
    return train_loader, test_loader


def make() -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    model = NotesNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters())
    return model, criterion, optimizer


def train(epoch, model, criterion, optimizer, train_loader, verbose=False):  # type: ignore[no-untyped-def]
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        if verbose and batch_idx % 100 == 0:
            print(
                "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(  # noqa: UP032 (notes)
                    epoch,
                    batch_idx * len(data),
                    len(train_loader.dataset),
                    100.0 * batch_idx / len(train_loader),
                    loss.item(),
                )
            )


def test(model, criterion, test_loader):  # type: ignore[no-untyped-def]
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += criterion(output, target).item()
            pred = output.max(1, keepdim=True)[1]
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    accuracy = 100.0 * correct / len(test_loader.dataset)
    return test_loss, accuracy
