"""AWS's own SDK core (botocore's ``bedrock-runtime`` client: its SigV4 signer, its rest-json and
event-stream parsers, its error factory) against the simulator's Bedrock wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "name three rivers"}]}]


@pytest.fixture()
def bedrock(sim_url: str) -> Iterator[Any]:
    session = botocore.session.get_session()
    client = session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=sim_url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    yield client
    client.close()


def test_converse(bedrock: Any) -> None:
    reply = bedrock.converse(
        modelId=MODEL, messages=MESSAGES, system=[{"text": "Be brief."}], inferenceConfig={"maxTokens": 100}
    )
    assert reply["output"]["message"]["content"] == [{"text": f"Simulated reply from {MODEL}: name three rivers"}]
    assert reply["stopReason"] == "end_turn"
    assert reply["usage"]["totalTokens"] > reply["usage"]["inputTokens"] > 0
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_converse_with_a_tool(bedrock: Any) -> None:
    tools = {"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]}
    reply = bedrock.converse(modelId=MODEL, messages=MESSAGES, toolConfig={**tools, "toolChoice": {"any": {}}})
    [block] = reply["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "lookup" and block["toolUse"]["input"] == {}
    assert reply["stopReason"] == "tool_use"


def test_converse_stream(bedrock: Any) -> None:
    reply = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    events = list(reply["stream"])
    assert [next(iter(e)) for e in events][:1] == ["messageStart"]
    assert [next(iter(e)) for e in events][-3:] == ["contentBlockStop", "messageStop", "metadata"]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == f"Simulated reply from {MODEL}: name three rivers"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 7


def test_throttling_is_the_modeled_exception(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ThrottlingException) as caught:
        bedrock.converse(modelId="sim-error-429", messages=MESSAGES)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_validation_error(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException) as caught:
        bedrock.converse(
            modelId=MODEL,
            messages=MESSAGES,
            toolConfig={
                "tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}],
                "toolChoice": {"tool": {"name": "g"}},
            },
        )
    assert "toolConfig.tools" in caught.value.response["Error"]["Message"]


def test_unknown_access_key(sim_url: str) -> None:
    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=sim_url,
        aws_access_key_id="INVALIDKEY",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=MODEL, messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_exception_mid_stream(bedrock: Any) -> None:
    def with_error(request: Any, **_: Any) -> None:
        request.headers["x-sim-error-after-chunks"] = "2"

    bedrock.meta.events.register("before-send.bedrock-runtime.ConverseStream", with_error)
    reply = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    with pytest.raises(EventStreamError) as caught:
        list(reply["stream"])
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_titan_embeddings_through_invoke_model(bedrock: Any) -> None:
    reply = bedrock.invoke_model(
        modelId="amazon.titan-embed-text-v2:0", body=b'{"inputText": "hello", "dimensions": 512}'
    )
    body = json.loads(reply["body"].read())
    assert len(body["embedding"]) == 512 and body["inputTextTokenCount"] == 2
