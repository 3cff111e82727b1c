Feature: Automated steps are done by workers, and a failure waits for an admin
  A process's external tasks are fetched by workers by topic. Failures are retried; when the
  retries run out the ticket needs attention until an admin retries it.

  Background:
    Given the demo users

  Scenario: Provisioning fails, an admin retries, the ticket completes
    Given the provisioning backend is failing
    And alice has submitted an IT request "Build server"
    When bob approves the ticket
    And the automated steps have run
    Then the ticket is needs_attention
    And carol may retry it
    When bob retries the ticket
    Then the request is refused with 403
    When the provisioning backend is working again
    And carol retries the ticket
    Then the request succeeds
    When the automated steps have run
    Then the ticket is completed
    And the ticket's history reads created, submitted, step_completed, needs_attention, retried, resumed, step_results, completed

  Scenario: A provisioned ticket shows its fulfilment reference and is found by part of it
    Given alice has submitted an IT request "Docking station"
    And alice has submitted an IT request "Headset"
    When bob approves the ticket
    And the automated steps have run
    Then the ticket is completed
    And the ticket shows its fulfilment reference
    And alice finds only this ticket by part of its fulfilment reference
    And bob finds only this ticket by part of its fulfilment reference
