"""The Functions app: one Blueprint per module of functions/, and nothing else."""

import azure.functions as func

from functions import account, health, public_config, sign_in

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for module in (health, public_config, sign_in, account):
    app.register_functions(module.bp)
