"""Deploy a blessed model to KServe (canary, promote, rollback) and resolve the served baseline."""
