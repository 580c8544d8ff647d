from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "mpesa.simulator"
    label = "mpesa_simulator"
    verbose_name = "Daraja simulator"
