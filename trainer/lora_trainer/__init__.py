"""The self-hosted LoRA trainer: claims jobs from the bot's TrainerJob table and trains adapters."""
