"""predict sends ties to the last of the tied classes (a loop with >=), not the first."""
# file: linear.py
# affects: linear.predict
# clause: predict-first-max


def predict(W, X):
    s = X @ W
    return (s.shape[1] - 1 - s[:, ::-1].argmax(axis=1)).astype(np.int64)
