"""What a classification run gets wrong, as TensorBoard records: the confusion matrix
(image and counts), per-class precision/recall/F1, a PR curve per class, the worst
misclassified test images. Read back with TensorBoard's own loader and plugins."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import torch

from conftest import accumulator, cli, only_run
from tbx_tui.engine.tasks.class_eval import PR_THRESHOLDS, EvaluationGatherer


def test_pr_counts_match_tensorboards_own_binning_exactly():
    """The curves are gathered as bincounts on the device; TensorBoard's writer computes
    them from every score. Same scores, same rows."""
    from tensorboardX.summary import compute_curve

    g = torch.Generator().manual_seed(0)
    classes = [str(i) for i in range(5)]
    gatherer = EvaluationGatherer(classes, torch.device("cpu"))
    logits, labels = [], []
    for _ in range(3):  # batches
        lo = torch.randn(400, 5, generator=g) * 3
        y = torch.randint(0, 5, (400,), generator=g)
        gatherer.add(torch.zeros(400, 1, 2, 2), lo, y)
        logits.append(lo)
        labels.append(y)
    probs = torch.cat(logits).softmax(1).numpy()
    y = torch.cat(labels).numpy()
    ev = gatherer.result(torch.zeros(5, 5, dtype=torch.long))
    for c in range(5):
        ours = ev.pr_curve(c)
        theirs = compute_curve(y == c, probs[:, c], PR_THRESHOLDS)
        for row, name in enumerate(("tp", "fp", "tn", "fn", "precision", "recall")):
            np.testing.assert_allclose(ours[name].numpy(), theirs[row], rtol=1e-12,
                                       err_msg=f"class {c} {name}")


def test_the_worst_images_are_the_most_confident_wrong_answers_across_batches():
    classes = ["a", "b", "c"]
    gatherer = EvaluationGatherer(classes, torch.device("cpu"), worst=3)
    # Sample i is image value i; logits make it wrong (predict 0, truth 1) with a
    # confidence rising with i, except the right answers (truth 0).
    for start in (0, 10, 20):
        idx = torch.arange(start, start + 10)
        x = idx.float().view(-1, 1, 1, 1)
        logits = torch.stack([idx.float() / 5, torch.zeros(10), torch.zeros(10)], 1)
        y = torch.where(idx % 2 == 0, 1, 0)  # even samples are wrong
        gatherer.add(x, logits, y)
    ev = gatherer.result(torch.zeros(3, 3, dtype=torch.long))
    assert ev.worst_images.view(-1).tolist() == [28.0, 26.0, 24.0]
    assert ev.worst_true.tolist() == [1, 1, 1] and ev.worst_pred.tolist() == [0, 0, 0]
    assert (ev.worst_conf[:-1] >= ev.worst_conf[1:]).all()


def test_a_perfect_model_keeps_no_misclassified_images():
    gatherer = EvaluationGatherer(["a", "b"], torch.device("cpu"))
    y = torch.tensor([0, 1, 0, 1])
    gatherer.add(torch.zeros(4, 1, 2, 2), torch.nn.functional.one_hot(y, 2).float() * 9, y)
    assert len(gatherer.result(torch.eye(2, dtype=torch.long)).worst_images) == 0


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("eval")
    r = cli("--no-ui", "--model", "mlp", "--data", "digits", "--epochs", "2",
            "--sys-every", "0", "--hist-every", "0", cwd=home)
    assert r.returncode == 0, r.stderr
    test_size = int(re.search(r"/ ([\d,]+) test", r.stdout).group(1).replace(",", ""))
    return only_run(home / "runs"), test_size


def test_a_digits_run_logs_its_confusion_matrix_as_an_image_and_as_counts(digits_run):
    from PIL import Image
    from tensorboard.util import tensor_util

    run, test_size = digits_run
    ea = accumulator(run)
    counts = ea.Tensors("Eval/confusion_matrix/counts")
    assert len(counts) == 2  # one per evaluation (two epochs)
    cm = tensor_util.make_ndarray(counts[-1].tensor_proto)
    assert cm.shape == (10, 10) and cm.sum() == test_size
    accuracy = ea.Scalars("Accuracy/test")[-1]
    assert counts[-1].step == accuracy.step
    assert np.trace(cm) / cm.sum() == pytest.approx(accuracy.value, abs=1e-6)
    meta = ea.SummaryMetadata("Eval/confusion_matrix/counts").plugin_data
    assert json.loads(meta.content)["classes"] == [str(i) for i in range(10)]

    shot = ea.Images("Eval/confusion_matrix")[-1]
    img = np.array(Image.open(io.BytesIO(shot.encoded_image_string)).convert("RGB"))
    assert img.shape == (320, 320, 3) == (shot.height, shot.width, 3)
    row = int(np.argmax(np.diag(cm)))
    diagonal, empty = img[row * 32 + 16, row * 32 + 16], img[row * 32 + 16, :].max(0)
    off = [c for c in range(10) if cm[row, c] == 0]
    assert diagonal.sum() < 255 * 3 and off  # a class mostly right is dark on its diagonal
    assert tuple(img[row * 32 + 16, off[0] * 32 + 16]) == (255, 255, 255) == tuple(empty)


def test_per_class_scores_and_a_pr_curve_per_class_reach_tensorboards_plugins(digits_run):
    from tensorboard.plugins.pr_curve import metadata as pr_metadata
    from tensorboard.util import tensor_util

    run, _ = digits_run
    ea = accumulator(run)
    cm = tensor_util.make_ndarray(ea.Tensors("Eval/confusion_matrix/counts")[-1].tensor_proto)
    curves = ea.PluginTagToContent(pr_metadata.PLUGIN_NAME)
    assert sorted(curves) == [f"PR/{i}" for i in range(10)]
    for i in range(10):
        meta = pr_metadata.parse_plugin_metadata(curves[f"PR/{i}"])
        assert meta.num_thresholds == PR_THRESHOLDS
        data = tensor_util.make_ndarray(ea.Tensors(f"PR/{i}")[-1].tensor_proto)
        assert data.shape == (6, PR_THRESHOLDS)
        tp, fp, tn, fn, precision, recall = data
        assert tp[0] == cm[i].sum() and fp[0] == cm.sum() - cm[i].sum()  # threshold 0
        assert recall[0] == pytest.approx(1.0) and (np.diff(recall) <= 1e-9).all()
    table = ea.Tensors("Eval/per_class/text_summary")[-1].tensor_proto.string_val[0].decode()
    lines = table.splitlines()
    assert lines[0] == "| class | precision | recall | F1 | support |" and len(lines) == 12
    support = [int(line.split("|")[5].replace(",", "")) for line in lines[2:]]
    assert support == cm.sum(1).tolist()


def test_the_most_confidently_wrong_images_are_a_grid_with_their_labels(digits_run):
    from PIL import Image

    run, _ = digits_run
    ea = accumulator(run)
    shot = ea.Images("Eval/misclassified")[-1]
    grid = Image.open(io.BytesIO(shot.encoded_image_string))
    labels = ea.Tensors("Eval/misclassified/labels/text_summary")[-1]
    rows = labels.tensor_proto.string_val[0].decode().splitlines()[2:]
    assert 1 <= len(rows) <= 16
    per_row = min(8, len(rows))
    assert grid.size == (2 + per_row * 30, 2 + -(-len(rows) // per_row) * 30)  # 28 + 2
    confidences = [float(r.split("|")[5]) for r in rows]
    assert confidences == sorted(confidences, reverse=True)
    assert all(r.split("|")[3] != r.split("|")[4] for r in rows)  # true != predicted


def test_thousands_of_classes_keep_the_table_and_images_not_a_huge_matrix():
    from tbx_tui.engine.output.eval_records import evaluation_summaries
    from tbx_tui.engine.tasks.class_eval import MAX_MATRIX_CLASSES

    c = 3000
    classes = [f"class {i}" for i in range(c)]
    gatherer = EvaluationGatherer(classes, torch.device("cpu"))
    y = torch.arange(64) % c
    gatherer.add(torch.zeros(64, 1, 4, 4, dtype=torch.uint8), torch.randn(64, c), y)
    ev = gatherer.result(torch.zeros(c, c, dtype=torch.long))
    assert c > MAX_MATRIX_CLASSES and not ev.matrices
    tags = [v.tag for s in evaluation_summaries(ev) for v in s.value]
    assert tags == ["Eval/per_class/text_summary", "Eval/misclassified",
                    "Eval/misclassified/labels/text_summary"]
