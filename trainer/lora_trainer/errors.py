"""The worker's error vocabulary."""


class JobInputError(ValueError):
    """The job itself is wrong (its dataset or hyperparameters): another attempt would fail the same
    way, so the job fails at once. The message is for the operator and never quotes the dataset."""
