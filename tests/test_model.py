from __future__ import annotations

import pytest
import torch

from rnnexp.config import ModelConfig
from rnnexp.model import build_model, count_parameters, predict_logits, resolve_device


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_and_cell_type(cell, bidirectional):
    cfg = ModelConfig(cell=cell, embedding_dims=8, num_neurons=6, num_layers=2, bidirectional=bidirectional, dropout=0.1)
    model = build_model(cfg, vocab_size=50, num_classes=3)
    assert type(model.rnn).__name__ == cell.upper()
    assert model.rnn.num_layers == 2 and model.rnn.bidirectional == bidirectional and model.rnn.dropout == 0.1
    out = model(torch.randint(0, 50, (5, 12)))
    assert out.shape == (5, 3)


def test_single_layer_gets_no_inter_layer_dropout_but_embedding_dropout_still_acts():
    model = build_model(ModelConfig(dropout=0.5, num_layers=1), 30, 2)
    assert model.rnn.dropout == 0.0
    x = torch.randint(2, 30, (4, 7))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    b = model(x)
    assert not torch.equal(a, b)  # dropout active in training
    model.eval()
    assert torch.equal(model(x), model(x))


def test_post_padding_does_not_change_the_unidirectional_summary():
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="lstm", embedding_dims=4, num_neurons=5), 20, 2).eval()
    seq = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0, 0]])
    assert torch.allclose(model(seq), model(padded), atol=1e-6)


def test_summary_picks_forward_state_at_last_and_backward_state_at_first_real_token():
    model = build_model(ModelConfig(embedding_dims=2, num_neurons=1, bidirectional=True), 20, 2)
    model.head = torch.nn.Identity()

    class FakeRNN(torch.nn.Module):  # output at step t: forward half t, backward half 100 + t
        def forward(self, x):
            t = torch.arange(x.shape[1], dtype=torch.float32).expand(x.shape[0], -1)
            return torch.stack([t, 100 + t], dim=2), None

    model.rnn = FakeRNN()
    tokens = torch.tensor([[0, 0, 5, 6, 7], [5, 6, 0, 0, 0], [0, 5, 6, 7, 0], [0, 0, 0, 0, 0]])
    assert model(tokens).tolist() == [[4, 102], [1, 100], [3, 101], [0, 104]]


def test_predict_logits_is_eval_mode_and_chunked():
    model = build_model(ModelConfig(dropout=0.5), 30, 2)
    model.train()
    x = torch.randint(1, 30, (10, 6))
    a = predict_logits(model, x, batch_size=3)
    model.eval()
    assert torch.allclose(a, model(x), atol=1e-6)
    assert predict_logits(model, x[:0]).shape == (0, 2)


def test_parameter_count_matches_formula():
    model = build_model(ModelConfig(cell="gru", embedding_dims=4, num_neurons=3), 10, 2)
    gru = 3 * (3 * 4 + 3 * 3 + 3 + 3)
    assert count_parameters(model) == 10 * 4 + gru + (3 * 2 + 2)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        from rnnexp.errors import ConfigError

        with pytest.raises(ConfigError, match="train.device is 'cuda'"):
            resolve_device("cuda")
