"""ygt: warehouse for the county medical community monitoring indicators (紧密型县域医共体监测指标)."""
