"""Continued pretraining and supervised fine-tuning (TRL + PEFT + accelerate) on `proteinlm build` outputs."""
