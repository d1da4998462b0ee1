"""Knowledge-base ingestion into Chroma and the `search_knowledge_base` tool."""
