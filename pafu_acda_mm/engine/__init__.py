"""Runtime support shared by every entry point and tool: checkpoint loading
on torch >= 2.6 and atomic checkpoint writes (process-wide changes applied on
import, each with a switch: runtime_changes.py), random-state resume, CPU distributed runs, runner set-up
from tool arguments, FLOP counting, recording what the adaptive layers
choose and their selection health in training logs, and deploy conversion
of PAFUs."""
from .adaptivity import AdaptivityRecorder, acda_scale_weights
from .alternating_optimization import PAFUAlternatingOptimizationHook
from .atomic_checkpoints import (AtomicLocalBackend, CrashSafeCheckpointHook,
                                 atomic_write, checkpoint_defect,
                                 find_readable_checkpoint,
                                 register_atomic_local_backend)
from .deploy import (build_deployed_model, convert_single_kernel_pafus,
                     count_pafu_selections, pafu_to_conv2d,
                     single_kernel_units)
from .distributed import destroy_distributed, setup_cpu_distributed
from .flops import acda_complexity, adaptive_flop_analyzer
from .rng_state_hook import RNGStateHook
from .runtime_changes import (RUNTIME_CHANGES, apply_runtime_changes,
                              runtime_change_enabled)
from .runner_setup import (add_runner_arguments, build_model_from_config,
                           build_runner, drop_training,
                           enable_result_visualization,
                           enable_test_time_augmentation, load_run_config)
from .selection_health import (SelectionHealthHook,
                               acda_coefficient_statistics,
                               pafu_selection_statistics)
from .safe_globals import (allow_mmengine_checkpoint_globals,
                           load_local_checkpoint_weights_only,
                           mmengine_checkpoint_globals)

__all__ = [
    'AdaptivityRecorder', 'AtomicLocalBackend', 'CrashSafeCheckpointHook',
    'PAFUAlternatingOptimizationHook',
    'RNGStateHook', 'RUNTIME_CHANGES', 'apply_runtime_changes',
    'runtime_change_enabled', 'SelectionHealthHook', 'acda_coefficient_statistics',
    'pafu_selection_statistics',
    'acda_complexity',
    'acda_scale_weights', 'adaptive_flop_analyzer', 'add_runner_arguments',
    'allow_mmengine_checkpoint_globals', 'atomic_write',
    'build_deployed_model',
    'build_model_from_config',
    'build_runner', 'checkpoint_defect', 'convert_single_kernel_pafus',
    'count_pafu_selections',
    'destroy_distributed',
    'drop_training', 'enable_result_visualization',
    'enable_test_time_augmentation', 'find_readable_checkpoint',
    'load_local_checkpoint_weights_only',
    'load_run_config',
    'mmengine_checkpoint_globals', 'pafu_to_conv2d',
    'register_atomic_local_backend', 'setup_cpu_distributed',
    'single_kernel_units'
]

apply_runtime_changes()
