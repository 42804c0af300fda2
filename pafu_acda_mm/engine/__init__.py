"""Runtime support shared by every entry point and tool: checkpoint loading
on torch >= 2.6, random-state resume, CPU distributed runs, runner set-up
from tool arguments."""
from .distributed import setup_cpu_distributed
from .rng_state_hook import RNGStateHook
from .runner_setup import (add_runner_arguments, build_runner,
                           enable_result_visualization, load_run_config)
from .safe_globals import (allow_mmengine_checkpoint_globals,
                           mmengine_checkpoint_globals)

__all__ = [
    'RNGStateHook', 'add_runner_arguments', 'allow_mmengine_checkpoint_globals',
    'build_runner', 'enable_result_visualization', 'load_run_config',
    'mmengine_checkpoint_globals', 'setup_cpu_distributed'
]
