"""The FastKMeans Suite's own PyTorch models on the splits bench/prototypes_vs_sklearn.py wrote, with the settings of the
suite's example notebooks: its classifier as run on Covertype (k_init='auto', cosine, automatic feature weights,
diversity 0.01, repulsion 0.01; 20 fit iterations, 30 fine-tuning epochs at rate 0.1 with 20 % held out) and its
regressor as run on California housing (20 target strata x 20 prototypes, softmax-scaled routing, top 5, batches of
1,024, diversity 0.01; 300 fit iterations, 100 epochs at rate 0.1 with 20 % held out, targets standardised).
Prints one "RESULT key=value ..." line per set: accuracy or R² on the test split, prototypes, fit and prediction time.

Usage: PYTHONPATH=<folder holding the suite's fast_kmeans package> python3 suite_prototypes.py WORKDIR [SET ...]
Runs on the GPU where torch sees one, else on the CPU.
"""
import sys
import time

import numpy as np
import torch

from suite_import import fast_kmeans  # noqa: F401  (the suite, with tqdm stood in for where missing)
from fast_kmeans import FastKMeansClassifier, FastKMeansRegressor

work = sys.argv[1]
wanted = set(sys.argv[2:])
device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"# suite: torch {torch.__version__} on {torch.cuda.get_device_name(0) if device == 'cuda' else 'cpu'}")


def synchronize():
    if device == "cuda":
        torch.cuda.synchronize()


for line in open(f"{work}/sets.tsv"):
    name, task, d, classes = line.split("\t")
    if wanted and name not in wanted:
        continue
    d = int(d)
    # On the device the model lives on: the suite's fit indexes its targets with a permutation made there.
    x_train = torch.from_numpy(np.fromfile(f"{work}/{name}.train.f32", dtype=np.float32).reshape(-1, d)).to(device)
    x_test = torch.from_numpy(np.fromfile(f"{work}/{name}.test.f32", dtype=np.float32).reshape(-1, d)).to(device)
    label_type = np.int32 if task == "class" else np.float32
    y_train = np.fromfile(f"{work}/{name}.train.labels", dtype=label_type)
    y_test = np.fromfile(f"{work}/{name}.test.labels", dtype=label_type)
    torch.manual_seed(42)
    np.random.seed(42)
    start = time.perf_counter()
    if task == "class":
        model = FastKMeansClassifier(k_init="auto", distance="cosine", auto_feature_weights=True, diversity_reg=0.01,
                                     repulsion_factor=0.01, device=device)
        y = torch.from_numpy(y_train.astype(np.float32)).to(device)
        model.fit(x_train, y, max_iters=20, verbose=False)
        model.finetune(x_train, y, epochs=30, eval_fraction=0.2, lr=0.1, verbose=False)
    else:
        mean, std = float(y_train.mean()), float(y_train.std())
        model = FastKMeansRegressor(k_targets=20, k_features=20, distance="euclidean", target_distance="euclidean",
                                    target_assignment="softmax_scaled", soft_type="softmax_scaled", top_k=5, batch_size=1024,
                                    diversity_reg=0.01, device=device)
        y = torch.from_numpy(((y_train - mean) / std).astype(np.float32)).reshape(-1, 1).to(device)
        model.fit(x_train, y, max_iters=300, verbose=False)
        model.finetune(x_train, y, epochs=100, eval_fraction=0.2, lr=0.1, verbose=False)
    synchronize()
    fit_s = time.perf_counter() - start
    model.predict(x_test)
    synchronize()
    start = time.perf_counter()
    predicted = model.predict(x_test)
    synchronize()
    predict_ms = (time.perf_counter() - start) * 1000
    predicted = predicted.detach().float().cpu().numpy().reshape(-1)
    prototypes = model.centroids.shape[0]
    if task == "class":
        quality = f"accuracy={(predicted.astype(np.int64) == y_test).mean():.4f}"
    else:
        predicted = predicted * std + mean
        quality = f"r2={1 - ((predicted - y_test) ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum():.4f}"
    print(f"RESULT data={name} method=suite prototypes={prototypes} {quality} fit_s={fit_s:.2f} predict_ms={predict_ms:.3f}",
          flush=True)
