"""What the preview shows: the report model, its renderers and sections, the diagram, comparisons, generated docs."""
