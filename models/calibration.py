"""Ordinal calibration: P(late) directly, then each "one bucket further" step.

The buckets are ordered, and the numbers we are judged on are cumulative:
S_1 = P(late) = P(bucket >= 1), S_2 = P(> 30 days) = P(bucket >= 2), and so on. The
scheme (a continuation-ratio calibration, fitted on the validation period):

1. S_1 gets its own one-dimensional calibrator (isotonic, or sigmoid = Platt scaling on
   the logit) against the binary target ``bucket >= 1``, on every row whose ``late`` is
   known;
2. for k = 1..K-2 the continuation probability c_k = P(bucket >= k+1 | bucket >= k)
   gets its own calibrator, fitted only on the rows known to have reached bucket k whose
   "one bucket further" is known too, from the model's raw c_k = S_{k+1} / S_k;
3. S_1 is clipped to [1e-4, 1 - 1e-4] and each c_k to [1e-3, 1 - 1e-3]; then
   S_{k+1} = S_k * c_k, and the bucket probabilities are the differences
   p_0 = 1 - S_1, p_k = S_k - S_{k+1}, p_{K-1} = S_{K-1}.

Why not calibrate every S_k on its own and force S_1 >= S_2 >= ... afterwards (the first
plan)? Isotonic steps saturate at the extremes (the top block of very overdue invoices
was all > 90 days late in the validation period), so several S_k hit the same ceiling
and the buckets between them get probability 0: a test invoice that lands there costs
~14 nats of log loss. On a generated ledger that scheme lost 0.04 nats of log loss to
the uncalibrated model; this one is monotone by construction, never gives a bucket
zero mass, keeps S_1 = P(late) calibrated directly, and matched the first scheme's
Brier for P(late) and P(> 30).

Censoring-aware rows. A validation row can be right-censored: an invoice still open at
the label cutoff, 40 days overdue, is known to be late and > 30 days late, but not its
exact bucket. Each step uses every row whose own binary target is known (``fit_scores``
takes the lowest possible bucket and a mask of exact buckets), not only the rows with an
exact bucket: those censored rows are nearly all late, so dropping them (the previous
scheme) taught the calibrator a late rate that was too low. Without a mask every bucket
is exact. The price: the multiclass log loss, scored on the test rows with an exact
bucket only (they leave out the same mostly-late censored rows), got a little worse in
4 of the 5 folds (better on average, thanks to the fifth).

``shift_late=False`` (sigmoid only) fixes the intercept of S_1's Platt map at 0: the
logit of P(late) is scaled, not shifted (temperature scaling, Guo et al. 2017). Why: the
late rate of one quarter says little about the next one (on the demo ledger 0.54 to 0.59
from quarter to quarter), while LightGBM, early-stopped on log loss, already gets the
level of the whole training history. Fitting that intercept moved P(late) to the
validation quarter's level and, over 5 backtest folds of the demo ledger, made the
test Brier of P(late) worse in 3 of them; the slope alone improved it in 4 of 5. The
continuation steps keep their intercept (it improved the Brier of P(> 30) in every fold
of the 31-leaf model; with the current 15 leaves in 3 of 4, figures below).
Keep ``shift_late=True`` when the ledger drifts for good (validation unlike training).

Also tried on those folds and not adopted: isotonic (ties cost 0.0003-0.0009 of ROC AUC,
and it overfit), a 6-month validation period (calibration then helped, but the model,
with 3 months less to train on, ended worse than the 3-month uncalibrated one), early
stopping on the first half of validation and calibrating on the second (no better), and
pooling out-of-fold predictions of earlier windows (worse on the two earliest folds:
their late rates differ again). All these gains are small: ~0.0002 of Brier for P(late),
~0.0008 for P(> 30), against a gap of ~0.012 to the generator's true probabilities.

Why it hardly moves P(late) (issue 3's "calibration improves Brier" target; demo ledger,
31 leaves of >= 50 rows, 4 folds = data cutoffs 0, 3, 6 and 9 months back; "truth" =
mean (P - true P)^2 over the labeled test rows, ``training.evaluate``): LightGBM
early-stopped on the validation period's log loss is already calibrated for P(late). On
the latest fold the truth distance is 0.01237 raw and 0.01241 calibrated, the true late
rate is within 0.02 of the raw P(late) in every decile, and the fitted slope (1.05) is
noise: over the folds calibration changed the test Brier of P(late) by +0.00003,
+0.00009, -0.00035, -0.00007 and the truth distance by +0.00004, -0.00001, -0.00027,
+0.00022. It does help P(> 30), in every fold (truth distance -0.0002 to -0.0006): the
model trains on rows with a known bucket, and near a label cutoff those are the invoices
paid early (train rows: 18.4% > 30 days late against the generator's 18.6%), so its raw
P(> 30) runs low; the first step's intercept (+0.10 logit) repairs that. On the latest
test the realized late rate (0.549) sits 2 points below the generator's own
probabilities for the same rows (0.569), a draw no calibrator fitted on another quarter
can know: ``shift_late=True`` "improved" that test Brier (0.15798 vs 0.15854) only by
moving away from the truth (0.01260 vs 0.01237). Weighting training rows by 1 /
snapshots of their invoice is wrong here (test rows are snapshots too): the mean P(late)
fell to 0.51 against a true 0.57. The whole distribution (current settings, 15 leaves
of >= 200 rows; ``bench/bench_train.py`` with 4 folds, latest first): calibration
changed the test ranked probability score (``brier_ordinal``) by -0.00011, -0.00003,
-0.00051, -0.00035 (latest 0.09025 vs 0.09036 raw), better in all 4, and the multiclass
Brier by -0.00049, +0.00066, -0.00112, -0.00010 (latest 0.48187 vs 0.48236); on the
latest fold, P(late)'s Brier by +0.00005 and P(> 30)'s by +0.00006.

The raw model's size (settings ``model_num_leaves``, ``model_min_child_samples``): 15
leaves of >= 200 rows against 31 of >= 50, folds latest first -- validation Brier of
P(late) 0.15973/0.16004, 0.15390/0.15492, 0.16184/0.16264, 0.15664/0.15686 (better in
all 4, the choice); test ROC AUC 0.8466/0.8475, 0.8513/0.8478, 0.8492/0.8470,
0.8500/0.8467; truth distance 0.01207/0.01237, 0.00871/0.00946, 0.01295/0.01374,
0.01160/0.01402. With it calibration lowered the test Brier of P(late) in the 3 earlier
folds (-0.00003, -0.00051, -0.00016), not in the latest (+0.00005). Tried on the latest
fold only: 31 leaves of >= 200 rows (validation Brier 0.15960, log loss 0.8511 against
0.8466), 7 of >= 100 and learning rate 0.02 (in between), 63 of >= 20 (worst).

A binary target with a single class among its rows (no invoice > 90 days late in the
validation period, say) gets a constant: its observed rate. A continuation step no
calibration row reached passes its raw value through (clipped).

The same machinery maps any increasing risk score to probabilities (the baselines):
give the score as the raw value of S_1 and of every c_k (``fit_scores``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ledger.errors import PayriskError

CalibrationMethod = Literal["isotonic", "sigmoid"]

FIRST_CLIP = 1e-4
STEP_CLIP = 1e-3


class CalibrationError(PayriskError):
    """Calibration was asked of data it cannot use (wrong shape, no rows, not fitted)."""


def cumulative_from_proba(proba: np.ndarray) -> np.ndarray:
    """S_k = P(bucket >= k) for k = 1..K-1, shape (n, K-1), from bucket probabilities."""
    array = np.asarray(proba, dtype="float64")
    tail_sums = np.cumsum(array[:, ::-1], axis=1)[:, ::-1]
    return tail_sums[:, 1:]


def proba_from_cumulative(cumulative: np.ndarray) -> np.ndarray:
    """Bucket probabilities (n, K) from non-increasing S_k (n, K-1): the differences."""
    s_values = np.asarray(cumulative, dtype="float64")
    n_rows = s_values.shape[0]
    bounded = np.hstack([np.ones((n_rows, 1)), s_values, np.zeros((n_rows, 1))])
    return np.clip(bounded[:, :-1] - bounded[:, 1:], 0.0, 1.0)


def continuation_from_proba(proba: np.ndarray) -> np.ndarray:
    """(S_1, c_1, ..., c_{K-2}) per row, shape (n, K-1); c_k = S_{k+1} / S_k (0 if S_k = 0)."""
    cumulative = cumulative_from_proba(proba)
    reached = cumulative[:, :-1]
    steps = np.divide(cumulative[:, 1:], reached, out=np.zeros_like(reached), where=reached > 0)
    return np.hstack([cumulative[:, :1], np.clip(steps, 0.0, 1.0)])


def proba_from_continuation(continuation: np.ndarray) -> np.ndarray:
    """Bucket probabilities (n, K) from (S_1, c_1, ...), after clipping (see module doc)."""
    values = np.asarray(continuation, dtype="float64")
    first = np.clip(values[:, :1], FIRST_CLIP, 1 - FIRST_CLIP)
    steps = np.clip(values[:, 1:], STEP_CLIP, 1 - STEP_CLIP)
    return proba_from_cumulative(np.cumprod(np.hstack([first, steps]), axis=1))


def _logit(values: np.ndarray) -> np.ndarray:
    clipped = np.clip(values, 1e-7, 1 - 1e-7)
    return np.log(clipped / (1 - clipped))


@dataclass
class _BinaryCalibrator:
    """One step: raw value -> calibrated probability (identity when it saw no rows)."""

    method: CalibrationMethod
    shift: bool = True
    constant: float | None = None
    isotonic: IsotonicRegression | None = None
    sigmoid: LogisticRegression | None = None

    def fit(self, raw: np.ndarray, target: np.ndarray) -> _BinaryCalibrator:
        if target.size == 0:
            return self
        if target.min() == target.max():
            self.constant = float(target[0])
        elif self.method == "isotonic":
            self.isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.isotonic.fit(raw, target)
        else:
            self.sigmoid = LogisticRegression(C=1e4, fit_intercept=self.shift, max_iter=1000)
            self.sigmoid.fit(_logit(raw).reshape(-1, 1), target)
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        if self.constant is not None:
            return np.full(raw.shape[0], self.constant)
        if self.isotonic is not None:
            return self.isotonic.predict(raw)
        if self.sigmoid is not None:
            return _apply_sigmoid(self.sigmoid, _logit(raw))
        return np.clip(raw, 0.0, 1.0)


def _apply_sigmoid(fitted: LogisticRegression, logit: np.ndarray) -> np.ndarray:
    """``fitted.predict_proba(logit)[:, 1]`` in NumPy, without sklearn's per-call checks
    (~0.1 ms each, several per prediction): expit(logit x coef + intercept), the same
    operations in the same order, so the same numbers."""
    decision = logit.reshape(-1, 1) @ fitted.coef_.T + fitted.intercept_
    return np.asarray(expit(decision.ravel()), dtype="float64")


@dataclass
class OrdinalCalibrator:
    """Continuation-ratio calibration of bucket probabilities; see the module docstring.

    ``fit``/``transform`` take bucket probabilities (n, K). ``fit_scores``/
    ``transform_scores`` take raw values of (S_1, c_1, ..., c_{K-2}) as an (n, K-1)
    array; ``isotonic`` accepts any increasing score there (a score repeated K-1
    times works), ``sigmoid`` needs probabilities (it works on their logit).
    ``shift_late=False`` (sigmoid only): S_1's map scales its logit without a shift.
    """

    method: CalibrationMethod = "isotonic"
    shift_late: bool = True
    calibrators_: list[_BinaryCalibrator] = field(default_factory=list)

    def fit_scores(
        self, raw_scores: np.ndarray, y_bucket: np.ndarray, y_exact: np.ndarray | None = None
    ) -> OrdinalCalibrator:
        """Fit S_1 and each c_k on the rows whose step target is known; returns self.

        ``y_bucket`` is the bucket, or where ``y_exact`` is False (right-censored) the
        lowest bucket the row can still end in; ``y_exact=None`` means every bucket is
        exact. Step k (k = 0 is S_1) uses the rows known to have reached bucket k whose
        "bucket >= k+1" is known: exact, or already past bucket k.
        """
        raw, labels, exact = self._checked(raw_scores, y_bucket, y_exact)
        self.calibrators_ = []
        for step in range(raw.shape[1]):
            known = (labels >= step) & (exact | (labels >= step + 1))
            target = (labels[known] >= step + 1).astype("float64")
            shift = self.shift_late or step > 0
            calibrator = _BinaryCalibrator(self.method, shift).fit(raw[known, step], target)
            self.calibrators_.append(calibrator)
        return self

    def _checked(
        self, raw_scores: np.ndarray, y_bucket: np.ndarray, y_exact: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raw = np.asarray(raw_scores, dtype="float64")
        labels = np.asarray(y_bucket)
        if raw.ndim != 2 or raw.shape[0] == 0 or raw.shape[0] != labels.shape[0]:
            raise CalibrationError(
                f"calibration needs rows: got raw values {raw.shape} for {labels.shape} labels"
            )
        exact = np.ones(labels.shape[0], bool) if y_exact is None else np.asarray(y_exact, bool)
        if exact.shape != labels.shape:
            raise CalibrationError(f"y_exact has shape {exact.shape} for {labels.shape} labels")
        if not self.shift_late and self.method != "sigmoid":
            raise CalibrationError(f"shift_late=False needs method 'sigmoid', not {self.method!r}")
        return raw, labels, exact

    def transform_scores(self, raw_scores: np.ndarray) -> np.ndarray:
        """Calibrated bucket probabilities (n, K) from raw (S_1, c_1, ...) values (n, K-1)."""
        if not self.calibrators_:
            raise CalibrationError("the calibrator is not fitted yet")
        raw = np.asarray(raw_scores, dtype="float64")
        if raw.ndim != 2 or raw.shape[1] != len(self.calibrators_):
            raise CalibrationError(
                f"expected raw values of shape (n, {len(self.calibrators_)}), got {raw.shape}"
            )
        calibrated = np.column_stack(
            [calibrator.predict(raw[:, k]) for k, calibrator in enumerate(self.calibrators_)]
        )
        return proba_from_continuation(calibrated)

    def fit(
        self, proba: np.ndarray, y_bucket: np.ndarray, y_exact: np.ndarray | None = None
    ) -> OrdinalCalibrator:
        """Fit on uncalibrated bucket probabilities (n, K) and buckets (see ``fit_scores``)."""
        return self.fit_scores(continuation_from_proba(proba), y_bucket, y_exact)

    def transform(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated bucket probabilities (n, K) from uncalibrated ones (n, K)."""
        return self.transform_scores(continuation_from_proba(proba))
