from . import bus_batch, controllers, models
from .hooks import pre_init_hook, uninstall_hook
