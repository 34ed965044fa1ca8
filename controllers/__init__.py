from . import device, entity_data, main, portal
