Feature: An approval nobody decides in time escalates
  The expense claim's process (deploy/workflows/expense-claim.bpmn) gives the managers 48 hours. Then
  an interrupting boundary timer takes the step from them and the team leads decide instead. The
  timer lives in the engine: on Camunda its job executor fires it; on the embedded engine `pflow serve`
  or any `pflow worker` does, from the database, after a restart too. The tests move the clock.

  Background:
    Given the demo users

  Scenario: Undecided for 48 hours, the claim goes to the team leads, who approve it
    Given alice has submitted an expense claim of 120 for "Train tickets"
    Then the ticket is in_progress at "Manager Approval"
    And the step "Manager Approval" is due 48 hours after it opened
    When 47 hours pass
    Then the ticket is in_progress at "Manager Approval"
    When 2 hours pass
    Then the ticket is in_progress at "Lead Approval"
    And the step "Lead Approval" is offered to the leads group
    When bob approves the ticket
    Then the request is refused with 403
    When lena approves the ticket with the comment "Fine, travel was agreed"
    And the automated steps have run
    Then the ticket is completed
    And the step "Lead Approval" was completed by lena with the comment "Fine, travel was agreed"

  Scenario: A manager who decides in time stops the escalation
    Given alice has submitted an expense claim of 80 for "Taxi"
    When bob rejects the ticket with the comment "Take the bus"
    Then the ticket is rejected
    When 49 hours pass
    Then the ticket is rejected
    And nobody has a task for the ticket
