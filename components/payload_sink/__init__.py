"""payload_sink: KServe's payload logger -> kfx's prediction log, for models served by any KServe runtime."""
