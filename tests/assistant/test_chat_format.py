from assistant.chat_format import parse_tool_calls, render_conversation, tool_call_message


def test_hermes_rendering_round_trips_a_tool_call(generator):
    tools = [{"type": "function", "function": {"name": "search_knowledge_base", "parameters": {}}}]
    messages = [
        {"role": "system", "content": "You are Kess."},
        {"role": "user", "content": "Where is my order?"},
        tool_call_message("search_knowledge_base", {"query": "order status"}),
        {"role": "tool", "content": "[1] Order status"},
    ]
    prompt = render_conversation(generator.tokenizer, messages, tools, add_generation_prompt=True)
    assert "<tools>" in prompt and "search_knowledge_base" in prompt
    assert "<tool_response>\n[1] Order status\n</tool_response>" in prompt
    assert parse_tool_calls(prompt) == [{"name": "search_knowledge_base", "arguments": {"query": "order status"}}]
    assert prompt.endswith("<|im_start|>assistant\n")


def test_malformed_tool_calls_are_skipped():
    text = '<tool_call>{"name": "search_knowledge_base", "arguments": {"query": "x"</tool_call>'
    assert parse_tool_calls(text) == []
    assert parse_tool_calls("<tool_call>[1, 2]</tool_call>") == []
    unclosed = '<tool_call>\n{"name": "search_knowledge_base", "arguments": "{\\"query\\": \\"refund\\"}"}'
    assert parse_tool_calls(unclosed) == [{"name": "search_knowledge_base", "arguments": {"query": "refund"}}]
