"""`ExtractionAlert`: raised by `GuardedModel` when a client looks like it is stealing the model."""


class ExtractionAlert(RuntimeError):
    """A client ran out of query budget or was flagged by the query monitor.

    Attributes:
        client_id: the client refused.
        reason: "query_budget" (the budget would be exceeded; nothing was
            answered) or "monitor" (the `QueryMonitor` flagged the client).
        queries: queries the client had been answered before this call.
        statistic: the monitor's Shapiro-Wilk W (None for a budget alert).
    """

    def __init__(self, message, *, client_id, reason, queries, statistic=None):
        super().__init__(message)
        self.client_id = client_id
        self.reason = reason
        self.queries = int(queries)
        self.statistic = statistic
