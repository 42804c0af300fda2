"""Runtime support for the entry points and tools, by purpose.

Every name below imports from ``pafu_acda_mm.engine``; its module says what
it is for:

- Checkpoints: weights-only loading of mmengine checkpoints
  (``safe_globals``), atomic writes and the last readable checkpoint
  (``atomic_checkpoints``), and the process-wide changes importing this
  package applies, each with a switch (``runtime_changes``).
- Runs: runner set-up from tool arguments (``runner_setup``), CPU
  distributed runs (``distributed``), random-state resume
  (``rng_state_hook``).
- Training of the adaptive layers: PAFU's alternating optimisation
  (``alternating_optimization``), what the layers choose
  (``adaptivity``) and their selection health in training logs
  (``selection_health``).
- Analysis and deploy: FLOP counts of PAFU and ACDA (``flops``), PAFU's
  deploy conversion (``deploy``). The onnxruntime check of an exported file
  (``onnxruntime_check``) needs the deploy extra and imports from its
  module only.
"""
# Checkpoints.
from .atomic_checkpoints import (AtomicLocalBackend, CrashSafeCheckpointHook,
                                 atomic_write, checkpoint_defect,
                                 find_readable_checkpoint,
                                 register_atomic_local_backend)
from .runtime_changes import (RUNTIME_CHANGES, apply_runtime_changes,
                              runtime_change_enabled)
from .safe_globals import (allow_mmengine_checkpoint_globals,
                           load_local_checkpoint_weights_only,
                           mmengine_checkpoint_globals)
# Runs.
from .distributed import destroy_distributed, setup_cpu_distributed
from .rng_state_hook import RNGStateHook
from .runner_setup import (add_runner_arguments, build_model_from_config,
                           build_runner, drop_training,
                           enable_result_visualization,
                           enable_test_time_augmentation, load_run_config)
# Training of the adaptive layers.
from .adaptivity import AdaptivityRecorder, acda_scale_weights
from .alternating_optimization import PAFUAlternatingOptimizationHook
from .selection_health import (SelectionHealthHook,
                               acda_coefficient_statistics,
                               pafu_selection_statistics)
# Analysis and deploy.
from .deploy import (build_deployed_model, convert_single_kernel_pafus,
                     count_pafu_selections, pafu_to_conv2d,
                     single_kernel_units)
from .flops import acda_complexity, adaptive_flop_analyzer

__all__ = [
    # Checkpoints.
    'AtomicLocalBackend', 'CrashSafeCheckpointHook', 'atomic_write',
    'checkpoint_defect', 'find_readable_checkpoint',
    'register_atomic_local_backend', 'RUNTIME_CHANGES',
    'apply_runtime_changes', 'runtime_change_enabled',
    'allow_mmengine_checkpoint_globals', 'load_local_checkpoint_weights_only',
    'mmengine_checkpoint_globals',
    # Runs.
    'destroy_distributed', 'setup_cpu_distributed', 'RNGStateHook',
    'add_runner_arguments', 'build_model_from_config', 'build_runner',
    'drop_training', 'enable_result_visualization',
    'enable_test_time_augmentation', 'load_run_config',
    # Training of the adaptive layers.
    'AdaptivityRecorder', 'acda_scale_weights',
    'PAFUAlternatingOptimizationHook', 'SelectionHealthHook',
    'acda_coefficient_statistics', 'pafu_selection_statistics',
    # Analysis and deploy.
    'build_deployed_model', 'convert_single_kernel_pafus',
    'count_pafu_selections', 'pafu_to_conv2d', 'single_kernel_units',
    'acda_complexity', 'adaptive_flop_analyzer'
]

apply_runtime_changes()
