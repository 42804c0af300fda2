"""PAFU's decorrelation regulariser as a loss term of any OpenMMLab model."""
import math
import numbers

import torch

from ..layers import pafu_decorrelation_loss


class PAFUDecorrelationMixin:
    """Add PAFU's kernel decorrelation regulariser (PAFU paper, eq. 3) to
    the losses of an OpenMMLab model.

    Mix it in before a model class whose ``loss(...)`` returns a dict of
    losses, e.g. ``class PAFUImageClassifier(PAFUDecorrelationMixin,
    ImageClassifier)``. ``loss()`` then also returns ``loss_decorrelation =
    decorrelation_weight * pafu_decorrelation_loss(self)``: the regulariser
    averaged over every PAFU of the model (backbone, neck and heads). The
    mixin adds no parameters or buffers, so state dicts and checkpoints are
    those of the upstream model.

    Args:
        *args: The model's positional arguments.
        decorrelation_weight (float): Weight of the regulariser, finite,
            >= 0.
            Default: 1.0 (the paper adds eq. 3 to the task loss unweighted).
        **kwargs: The model's keyword arguments.

    Raises:
        ValueError: If ``decorrelation_weight`` is not a finite number >= 0,
            or the built model has no PAFU module (checked at construction).
    """

    def __init__(self, *args, decorrelation_weight: float = 1.0, **kwargs):
        if (not isinstance(decorrelation_weight, numbers.Real)
                or isinstance(decorrelation_weight, bool)
                or not 0 <= decorrelation_weight < math.inf):
            raise ValueError('decorrelation_weight must be a finite number '
                             f'>= 0, got {decorrelation_weight!r}')
        super().__init__(*args, **kwargs)
        self.decorrelation_weight = float(decorrelation_weight)
        # Fail when the model is built, not at its first training step:
        # this raises ValueError for a model without PAFU.
        with torch.no_grad():
            pafu_decorrelation_loss(self)

    def add_decorrelation_loss(self, losses: dict) -> dict:
        """Add ``loss_decorrelation`` (a scalar) to a loss dict.

        :meth:`loss` calls it; a model whose training losses come from
        another method (mmagic's ``BaseEditModel.forward_train``) calls it
        from there.

        Args:
            losses (dict[str, Tensor]): The model's losses, changed in place.

        Returns:
            dict[str, Tensor]: ``losses``.
        """
        losses['loss_decorrelation'] = (
            self.decorrelation_weight * pafu_decorrelation_loss(self))
        return losses

    def loss(self, *args, **kwargs) -> dict:
        """The model's losses plus ``loss_decorrelation``.

        Args:
            *args, **kwargs: Those of the model's ``loss``.

        Returns:
            dict[str, Tensor]: See :meth:`add_decorrelation_loss`.
        """
        return self.add_decorrelation_loss(super().loss(*args, **kwargs))
