"""The Core profile ([SPEC] §4, §5 Core messages)."""
