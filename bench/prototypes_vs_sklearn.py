"""scikit-learn's side of bench/prototypes_vs_sklearn.sh, and the data both sides read.

Usage: prototypes_vs_sklearn.py WORKDIR
For each data set Debian's python3-sklearn ships (digits, wine, breast cancer; diabetes for regression) it writes a
stratified 75/25 split (seed 0) as raw float32/int32 files, then fits KNeighbors (k = 5, brute force), NearestCentroid and
LogisticRegression (classification) or KNeighborsRegressor and LinearRegression (regression) on the standardised
features, printing one "RESULT key=value ..." line per model with accuracy or R² and the prediction time.

Two synthetic sets stand in for the data the FastKMeans Suite reports on (Covertype, California housing), which cannot
be downloaded here; each is built to match its original's shape, split and k-NN score:
- cover_like: 50,000 rows, 7 imbalanced classes, 10 continuous features of different scales and 44 one-hot columns (4
  "areas", 40 "soils"); the class is that of the nearest of 60 random anchors in 5 of the continuous features (the
  anchors shared among the classes about as Covertype's rows are), with 2 % of labels redrawn. An 80/20 split (seed
  42), as the suite's notebook. k-NN (k = 5) scores 0.80, Covertype's 0.83.
- housing_like: 20,640 rows, 8 features (income, age, rooms, bedrooms, population, occupancy, latitude, longitude);
  the value is a sum of city bumps over the location plus income and age effects and noise, capped at 5, as
  California's is. A 90/10 split (seed 42). k-NN scores 0.68 (California's 0.67), linear regression 0.61 (0.60).
WORKDIR/sets.tsv lists every set (name, task, d, classes) for the .NET side.
"""
import sys
import time

import numpy as np
from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestCentroid
from sklearn.preprocessing import StandardScaler



def cover_like(n=50000):
    rng = np.random.default_rng(7)
    informative, anchors = 5, 60
    centres = rng.normal(size=(anchors, informative))
    prior = np.array([.365, .488, .062, .005, .016, .030, .034])
    anchor_class = rng.permutation(np.repeat(np.arange(7), [21, 29, 4, 1, 1, 2, 2]))  # about Covertype's shares
    z = rng.normal(size=(n, 10))
    nearest = ((z[:, None, :informative] - centres[None]) ** 2).sum(-1).argmin(1)
    y = anchor_class[nearest]
    redrawn = rng.random(n) < 0.02
    y[redrawn] = rng.choice(7, size=redrawn.sum(), p=prior)
    mix = rng.normal(size=(10, 10)) * 0.3 + np.eye(10)
    continuous = z @ mix * rng.uniform(0.5, 50, 10)
    area = np.eye(4)[np.where(rng.random(n) < 0.85, nearest % 4, rng.integers(0, 4, n))]
    anchor_soil = rng.integers(0, 40, anchors)
    soil = np.eye(40)[np.where(rng.random(n) < 0.6, anchor_soil[nearest], rng.integers(0, 40, n))]
    return np.hstack([continuous, area, soil]), y


def housing_like(n=20640):
    rng = np.random.default_rng(11)
    lat, lon = rng.uniform(32, 42, n), rng.uniform(-124, -114, n)
    cities = np.column_stack([rng.uniform(32, 42, 12), rng.uniform(-124, -114, 12)])
    strength, width = rng.uniform(0.5, 2.0, 12), rng.uniform(0.3, 1.2, 12)
    d2 = (lat[:, None] - cities[None, :, 0]) ** 2 + (lon[:, None] - cities[None, :, 1]) ** 2
    place = (strength * np.exp(-d2 / (2 * width ** 2))).sum(1)
    income = np.exp(rng.normal(1.2 + 0.3 * place, 0.4))
    age = rng.uniform(1, 52, n)
    rooms = rng.gamma(5, 1, n) + 0.3 * income
    bedrooms = rooms * rng.uniform(0.15, 0.25, n)
    population = rng.lognormal(7, 0.7, n) * (1 + place)
    occupancy = rng.lognormal(1.0, 0.3, n)
    value = 0.35 * income + 1.1 * place - 0.004 * age + 0.05 * np.sin(age / 5) + rng.normal(0, 0.45, n)
    return np.column_stack([income, age, rooms, bedrooms, population, occupancy, lat, lon]), np.clip(value, 0.15, 5.0)


def loaded(loader):
    return lambda: loader(return_X_y=True)


work = sys.argv[1]
manifest = []
# (name, rows and targets, task, test fraction, split seed): the suite-like sets use the suite's own splits.
for name, make, task, test_size, seed in [
        ("digits", loaded(datasets.load_digits), "class", 0.25, 0), ("wine", loaded(datasets.load_wine), "class", 0.25, 0),
        ("breast_cancer", loaded(datasets.load_breast_cancer), "class", 0.25, 0),
        ("diabetes", loaded(datasets.load_diabetes), "regression", 0.25, 0),
        ("cover_like", cover_like, "class", 0.2, 42), ("housing_like", housing_like, "regression", 0.1, 42)]:
    x, y = make()
    stratify = y if task == "class" and seed == 0 else None
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=stratify)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train).astype(np.float32), scaler.transform(x_test).astype(np.float32)
    x_train.tofile(f"{work}/{name}.train.f32")
    x_test.tofile(f"{work}/{name}.test.f32")
    label_type = np.int32 if task == "class" else np.float32
    y_train.astype(label_type).tofile(f"{work}/{name}.train.labels")
    y_test.astype(label_type).tofile(f"{work}/{name}.test.labels")
    classes = int(y.max()) + 1 if task == "class" else 0
    manifest.append(f"{name}\t{task}\t{x_train.shape[1]}\t{classes}\n")
    print(f"DATA name={name} task={task} train={x_train.shape[0]} test={x_test.shape[0]} d={x_train.shape[1]}")
    models = ([("knn5", KNeighborsClassifier(5, algorithm="brute")), ("nearest-centroid", NearestCentroid()),
               ("logistic-regression", LogisticRegression(max_iter=2000))] if task == "class"
              else [("knn5", KNeighborsRegressor(5, algorithm="brute")), ("linear-regression", LinearRegression())])
    for label, model in models:
        model.fit(x_train, y_train)
        repeats = 20 if x_train.shape[0] * x_test.shape[0] < 50_000_000 else 3  # k-NN on cover_like takes seconds a pass
        start = time.perf_counter()
        for _ in range(repeats):
            predicted = model.predict(x_test)
        ms = (time.perf_counter() - start) * 1000 / repeats
        quality = model.score(x_test, y_test)
        metric = "accuracy" if task == "class" else "r2"
        print(f"RESULT data={name} method=sklearn-{label} {metric}={quality:.4f} predict_ms={ms:.3f}")
with open(f"{work}/sets.tsv", "w") as f:
    f.writelines(manifest)
