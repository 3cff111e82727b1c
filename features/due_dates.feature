Feature: Steps have due times, and the people who may act are reminded before and at them
  A step is due when its BPMN says (camunda:dueDate), else after its ticket type's default. Those who may
  act on it are reminded PFLOW_REMIND_BEFORE before, and told once it is overdue, each once.

  Background:
    Given the demo users

  Scenario: A purchase step is due after the type's default, and its approvers are reminded once each
    Given alice has submitted a purchase request of 5000 from "ACME"
    Then the step "Manager Approval" is due 48 hours after it opened
    And bob has no overdue task
    When 45 hours have passed since the step "Manager Approval" opened
    And the reminders have been sent
    Then bob is reminded that "Manager Approval" is due
    And alice is not reminded of the ticket
    When 49 hours have passed since the step "Manager Approval" opened
    And the reminders have been sent
    And the reminders have been sent
    Then bob has an overdue task "Manager Approval" for the ticket
    And bob is told once that "Manager Approval" is overdue
    And bob is reminded once that "Manager Approval" is due

  Scenario: A due date in the BPMN wins over the type's default
    Given alice has submitted a contract review "NDA"
    Then the step "Legal Review" is due 24 hours after it opened

  Scenario: A step done before its due time counts as done in time for its type
    Given alice has submitted a purchase request of 500 from "ACME"
    When bob approves the ticket
    Then the request succeeds
    And the dashboard shows 1 of 1 purchase_request steps done in time
