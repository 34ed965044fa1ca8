from . import device, main, portal
