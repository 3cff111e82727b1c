"""On Camunda a called instance gets no business key unless the call activity passes one; PFlow finds a
ticket's steps by it, so the Camunda adapter adds ``camunda:in businessKey`` where a call activity has none."""

from lxml import etree

from pflow.adapters.bpmn.reader import BUSINESS_KEY_DOWN, CAMUNDA, pass_business_key_down, read_processes
from tests.contract.test_bpmn_coverage import HERE

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": CAMUNDA[1:-1]}


def _ins(xml: bytes, call_id: str) -> list[dict]:
    root = etree.fromstring(xml)
    [call] = root.xpath(f"//bpmn:callActivity[@id='{call_id}']", namespaces=NS)
    return [dict(i.attrib) for i in call.xpath("bpmn:extensionElements/camunda:in", namespaces=NS)]


def test_a_call_activity_without_a_business_key_gets_one_and_keeps_its_mappings():
    original = (HERE / "call-error.bpmn").read_bytes()
    changed = pass_business_key_down(original)
    assert _ins(changed, "Fulfil") == [{"source": "item", "target": "item"}, {"businessKey": BUSINESS_KEY_DOWN}]
    assert read_processes(changed).keys() == read_processes(original).keys()  # still the same processes
    assert pass_business_key_down(changed) == changed  # once is enough


def test_a_call_activity_passing_its_own_business_key_and_a_file_without_calls_stay_as_they_are():
    calling = (HERE / "call.bpmn").read_bytes()  # passes #{execution.processBusinessKey} itself
    assert pass_business_key_down(calling) == calling
    plain = (HERE / "quorum.bpmn").read_bytes()
    assert pass_business_key_down(plain) is plain


def test_a_call_activity_without_extension_elements_gets_them_before_its_flows():
    xml = (b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
           b'<bpmn:process id="p" isExecutable="true"><bpmn:callActivity id="C" calledElement="q">'
           b'<bpmn:documentation>d</bpmn:documentation><bpmn:incoming>f</bpmn:incoming></bpmn:callActivity>'
           b'</bpmn:process></bpmn:definitions>')
    root = etree.fromstring(pass_business_key_down(xml))
    [call] = root.xpath("//bpmn:callActivity", namespaces=NS)
    assert [etree.QName(c).localname for c in call] == ["documentation", "extensionElements", "incoming"]
