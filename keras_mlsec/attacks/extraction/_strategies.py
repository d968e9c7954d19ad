"""How the attacker picks its queries: random (CopycatCNN), Jacobian augmentation, KnockoffNets.

Every strategy spends the oracle's budget in rounds, trains the substitute
after each round (warm start) and records `(queries used, snapshot)` so that
the report can draw agreement against queries without another query.
"""

import numpy as np

from keras_mlsec.attacks.extraction._substitute import default_epochs

STRATEGIES = ("random", "jacobian", "knockoff")


class Sampler:
    """Draws fresh inputs: unused pool examples first, then mixes of two pool examples.

    Without a pool, inputs are uniform in `clip`.
    """

    def __init__(self, pool, input_shape, clip, rng):
        self.pool, self.input_shape, self.clip, self.rng = pool, input_shape, clip, rng
        self.unused = None if pool is None else list(rng.permutation(len(pool)))

    def draw(self, n, indices=None):
        """`n` new inputs, taken from `indices` of the pool when given (a cluster)."""
        if self.pool is None:
            low, high = self.clip if self.clip is not None else (-1.0, 1.0)
            shape = (n,) + tuple(self.input_shape)
            return self.rng.uniform(low, high, shape).astype(np.float32)
        allowed = None if indices is None else set(indices.tolist())
        picked = []
        for i in list(self.unused):
            if len(picked) == n:
                break
            if allowed is None or i in allowed:
                picked.append(i)
        for i in picked:
            self.unused.remove(i)
        out = self.pool[picked]
        missing = n - len(picked)
        if missing:  # pool exhausted: convex mixes of two pool examples stay near the data
            source = np.arange(len(self.pool)) if indices is None else indices
            first = self.rng.integers(0, len(source), missing)
            second = (first + self.rng.integers(1, max(len(source), 2), missing)) % len(source)
            a, b = self.pool[source[first]], self.pool[source[second]]  # two distinct examples
            lam = self.rng.uniform(0, 1, (missing,) + (1,) * (a.ndim - 1)).astype(np.float32)
            out = np.concatenate([out, lam * a + (1 - lam) * b], 0)
        return out.astype(np.float32)


def checkpoints(budget, points=4):
    """Cumulative query counts at which the substitute is trained: budget/2^k, ..., budget."""
    sizes = sorted({max(1, budget // 2 ** k) for k in range(points)})
    return sizes


class Run:
    """Shared state of one extraction: oracle, substitute, the data bought, snapshots."""

    def __init__(self, oracle, substitute, sampler, epochs):
        self.oracle, self.substitute, self.sampler = oracle, substitute, sampler
        self.epochs = epochs
        self.x, self.answers, self.history = [], [], []

    def buy(self, x):
        answers = self.oracle.query(x)
        self.x.append(x)
        self.answers.append(answers)
        return answers

    def train(self):
        x, answers = np.concatenate(self.x), np.concatenate(self.answers)
        self.substitute.fit(x, answers, self.epochs or default_epochs(len(x)))
        self.history.append((self.oracle.queries_used, self.substitute.snapshot()))


def random_strategy(run, rng):
    """CopycatCNN: pool (or uniform) queries, bought in doubling rounds."""
    for target in checkpoints(run.oracle.query_budget):
        n = target - run.oracle.queries_used
        if n > 0:
            run.buy(run.sampler.draw(n))
            run.train()


def jacobian_strategy(run, rng, *, clip, step=0.1, tau=3):
    """Papernot et al.: seeds, then doubling by steps along sign(d logit[oracle label] / dx)."""
    budget = run.oracle.query_budget
    low, high = clip if clip is not None else (None, None)
    width = (high - low) if clip is not None else 1.0
    n_seeds = min(budget, max(run.oracle.num_classes or 10, budget // 16))
    run.buy(run.sampler.draw(n_seeds))
    run.train()
    round_index = 0
    while run.oracle.remaining > 0:
        x_all, answers_all = np.concatenate(run.x), np.concatenate(run.answers)
        labels = answers_all if answers_all.ndim == 1 else np.argmax(answers_all, 1)
        sign = -1.0 if (round_index // tau) % 2 else 1.0  # periodic step (Papernot et al.)
        grads = run.substitute.class_gradient_sign(x_all, labels)
        new = x_all + sign * step * width * grads
        if clip is not None:
            new = np.clip(new, low, high)
        if len(new) > run.oracle.remaining:  # reservoir: a random subset fits the budget
            new = new[rng.choice(len(new), run.oracle.remaining, replace=False)]
        run.buy(new.astype(np.float32))
        run.train()
        round_index += 1


def knockoff_strategy(run, rng, *, rounds=5, learning_rate=0.1):
    """KnockoffNets, adaptive: a gradient bandit over pool clusters, rewarded per query.

    Actions are k-means clusters of the pool (one per class); the reward of a
    query is the victim's certainty (top-2 margin) plus diversity (how far the
    answer is from the recent mean answer) plus the substitute's loss on it
    (cross-entropy to the victim's answer), as in Orekondy et al.'s "all" reward.
    """
    from sklearn.cluster import MiniBatchKMeans

    pool = run.sampler.pool
    k = int(min(run.oracle.num_classes or 10, len(pool)))
    clusters = MiniBatchKMeans(n_clusters=k, random_state=int(rng.integers(2 ** 31)),
                               n_init=3).fit_predict(pool.reshape(len(pool), -1))
    members = [np.flatnonzero(clusters == c) for c in range(k)]
    members = [m for m in members if len(m)]
    preferences = np.zeros(len(members))
    baseline, seen, mean_answer = 0.0, 0, None
    budget = run.oracle.query_budget
    size = max(1, -(-budget // rounds))
    while run.oracle.remaining > 0:
        n = min(size, run.oracle.remaining)
        policy = np.exp(preferences - preferences.max())
        policy /= policy.sum()
        actions = rng.choice(len(members), n, p=policy)
        x = np.concatenate([run.sampler.draw(int(np.sum(actions == a)), members[a])
                            for a in range(len(members)) if np.any(actions == a)])
        actions = np.concatenate([np.full(int(np.sum(actions == a)), a)
                                  for a in range(len(members)) if np.any(actions == a)])
        answers = run.buy(x)
        probs = answers if answers.ndim == 2 else np.eye(run.substitute.num_classes)[answers]
        if run.history:
            mean_answer, rewards = _rewards(probs, run.substitute.predict_proba(x), mean_answer)
            for a, r in zip(actions, rewards):  # gradient bandit (Sutton and Barto 2.8)
                seen += 1
                baseline += (r - baseline) / seen
                step = learning_rate * (r - baseline)
                preferences -= step * policy
                preferences[a] += step
        run.train()


def _rewards(victim_probs, substitute_probs, mean_answer):
    top2 = np.sort(victim_probs, 1)[:, -2:]
    certainty = top2[:, 1] - top2[:, 0]
    if mean_answer is None:
        mean_answer = victim_probs.mean(0)
    diversity = np.maximum(victim_probs - mean_answer, 0).sum(1)
    loss = -np.sum(victim_probs * np.log(substitute_probs + 1e-12), 1)
    parts = [certainty, diversity, loss]
    rewards = sum((p - p.min()) / (p.max() - p.min() + 1e-12) for p in parts)
    return 0.5 * mean_answer + 0.5 * victim_probs.mean(0), rewards
