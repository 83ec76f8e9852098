"""scikit-learn's side of bench/prototypes_vs_sklearn.sh, and the data both sides read.

Usage: prototypes_vs_sklearn.py WORKDIR
For each data set Debian's python3-sklearn ships (digits, wine, breast cancer; diabetes for regression) it writes a
stratified 75/25 split (seed 0) as raw float32/int32 files, then fits KNeighbors (k = 5, brute force), NearestCentroid and
LogisticRegression (classification) or KNeighborsRegressor (regression) on the standardised features, printing one
"RESULT key=value ..." line per model with accuracy or R² and the prediction time.
"""
import sys
import time

import numpy as np
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestCentroid
from sklearn.preprocessing import StandardScaler

work = sys.argv[1]
for name, loader, task in [("digits", datasets.load_digits, "class"), ("wine", datasets.load_wine, "class"),
                           ("breast_cancer", datasets.load_breast_cancer, "class"), ("diabetes", datasets.load_diabetes, "regression")]:
    x, y = loader(return_X_y=True)
    stratify = y if task == "class" else None
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=stratify)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train).astype(np.float32), scaler.transform(x_test).astype(np.float32)
    x_train.tofile(f"{work}/{name}.train.f32")
    x_test.tofile(f"{work}/{name}.test.f32")
    label_type = np.int32 if task == "class" else np.float32
    y_train.astype(label_type).tofile(f"{work}/{name}.train.labels")
    y_test.astype(label_type).tofile(f"{work}/{name}.test.labels")
    print(f"DATA name={name} task={task} train={x_train.shape[0]} test={x_test.shape[0]} d={x_train.shape[1]}")
    models = ([("knn5", KNeighborsClassifier(5, algorithm="brute")), ("nearest-centroid", NearestCentroid()),
               ("logistic-regression", LogisticRegression(max_iter=2000))] if task == "class"
              else [("knn5", KNeighborsRegressor(5, algorithm="brute"))])
    for label, model in models:
        model.fit(x_train, y_train)
        start = time.perf_counter()
        for _ in range(20):
            predicted = model.predict(x_test)
        ms = (time.perf_counter() - start) * 1000 / 20
        quality = model.score(x_test, y_test)
        metric = "accuracy" if task == "class" else "r2"
        print(f"RESULT data={name} method=sklearn-{label} {metric}={quality:.4f} predict_ms={ms:.3f}")
