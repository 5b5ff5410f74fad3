"""A small stand-in for Azure Functions Core Tools, for this repo's app only.

Core Tools cannot be installed here (its npm package downloads a binary), so this host loads
`function_app.app`, routes HTTP requests to its functions, runs its timers, serves the static
site with the headers Static Web Apps would add, starts Azurite, and in the sandbox plays
Twilio's and Stripe's part. function_app.py never imports it.
"""
