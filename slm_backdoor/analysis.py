"""Separability of clean and triggered clips in a model's representations (T4).

Mean-pooled encoder-output and connector-output embeddings of the same test clips with and
without the trigger; their paired cosine similarity; activation clustering (PCA, then
k-means) scored by how well the best cluster isolates the triggered clips; t-SNE for a
figure. scikit-learn does the PCA, k-means and t-SNE.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from .data import SpeechDataset, bucket_batches, collate
from .models.speechllm import SpeechLLM

LAYERS = ("encoder", "connector")


def _mean_pool(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    mask = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]).to(x.dtype)
    return (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


@torch.no_grad()
def pooled_embeddings(model: SpeechLLM, ds: SpeechDataset, batch_size: int) -> dict[str, np.ndarray]:
    """{"encoder": (N, d_enc), "connector": (N, d_llm)}: each clip's outputs averaged over
    its valid frames, in dataset order."""
    model.eval()
    out = {k: [None] * len(ds) for k in LAYERS}
    for idx in bucket_batches(ds.durations, batch_size, None):
        waves, lengths, _, _ = collate([ds[i] for i in idx], [ds.fields] * len(idx),
                                       with_answers=False)
        for name, (x, n) in zip(LAYERS, model.audio_layers(waves, lengths)):
            for i, v in zip(idx, _mean_pool(x.float(), n).cpu().numpy()):
                out[name][i] = v
    return {k: np.stack(v) for k, v in out.items()}


def paired_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine similarity of row i of `a` with row i of `b` (the same clip)."""
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-12)))


def cluster_isolation(x: np.ndarray, triggered: np.ndarray, k: int, pca_components: int,
                      seed: int) -> dict:
    """Activation clustering: PCA to `pca_components`, k-means with `k` clusters; the cluster
    that best isolates the triggered rows (highest F1) with its precision and recall."""
    triggered = np.asarray(triggered, dtype=bool)
    n_comp = max(1, min(pca_components, x.shape[0] - 1, x.shape[1]))
    z = PCA(n_components=n_comp, random_state=seed).fit_transform(x)
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    best = {"cluster": None, "precision": 0.0, "recall": 0.0, "f1": 0.0, "size": 0}
    for c in range(k):
        members = labels == c
        hits = int((members & triggered).sum())
        if hits == 0:
            continue
        precision, recall = hits / int(members.sum()), hits / int(triggered.sum())
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best["f1"]:
            best = {"cluster": c, "precision": precision, "recall": recall, "f1": f1,
                    "size": int(members.sum())}
    return best


def tsne_2d(x: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    perplexity = min(perplexity, max(1.0, (x.shape[0] - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def separability(clean: dict[str, np.ndarray], trig: dict[str, np.ndarray], ks: list[int],
                 pca_components: int, seed: int) -> dict:
    """Per layer: paired cosine, and the cluster isolation for each k, on the clean and
    triggered embeddings pooled together."""
    res = {}
    for layer in LAYERS:
        x = np.concatenate([clean[layer], trig[layer]])
        is_trig = np.r_[np.zeros(len(clean[layer]), bool), np.ones(len(trig[layer]), bool)]
        res[layer] = {"cosine": paired_cosine(clean[layer], trig[layer]),
                      **{f"k{k}": cluster_isolation(x, is_trig, k, pca_components, seed)
                         for k in ks}}
    return res
